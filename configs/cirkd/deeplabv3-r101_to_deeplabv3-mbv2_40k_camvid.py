# CIRKD: DeepLabV3-ResNet101 teacher -> DeepLabV3-MobileNetV2 student on CamVid,
# as ./deeplabv3-r101_to_deeplabv3-r18_40k_camvid.py (teacher, data and recipe; see its header for the files to put in place) with the
# student of ./deeplabv3-mbv2_40k_camvid.py (its header says where its ImageNet initialisation comes from).
#   bash tools/dist_train.sh configs/cirkd/deeplabv3-r101_to_deeplabv3-mbv2_40k_camvid.py 8
_base_ = ['./deeplabv3-r101_to_deeplabv3-r18_40k_camvid.py']
model = dict(
    student=dict(_delete_=True, cfg_path='{{fileDirname}}/deeplabv3-mbv2_40k_camvid.py'))
