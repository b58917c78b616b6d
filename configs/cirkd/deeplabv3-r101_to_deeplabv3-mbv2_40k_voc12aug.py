# CIRKD: DeepLabV3-ResNet101 teacher -> DeepLabV3-MobileNetV2 student on Pascal VOC 2012 + aug,
# as ./deeplabv3_r101_to_r18_voc12aug.py (teacher, data and recipe; see its header for the files to put in place) with the
# student of ./deeplabv3_mbv2_40k_voc12aug.py (its header says where its ImageNet initialisation comes from).
#   bash tools/dist_train.sh configs/cirkd/deeplabv3_r101_to_mbv2_voc12aug.py 8
_base_ = ['./deeplabv3_r101_to_r18_voc12aug.py']
model = dict(
    student=dict(_delete_=True, cfg_path='{{fileDirname}}/deeplabv3_mbv2_40k_voc12aug.py'))
